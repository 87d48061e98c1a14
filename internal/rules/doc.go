// Package rules is the rules engine of SPEC.md "Rules": what a rule is
// ([Rule]), its checking and precompiling when it is saved ([Compile]), and
// its judgement of one message ([Evaluate]), which is a pure function: it
// reads a [View] of the message and returns an [Outcome] that says which
// rules matched, why (each condition with the text that matched: the dry
// run's explanation), and which actions to apply in which order. Nothing
// here touches the store, the network or the work log: the caller applies
// the outcome and writes its log lines ([Match.LogLine], [Step.LogLine]).
//
// Matching. A rule applies to a message of its mailbox (or of any mailbox
// when its MailboxID is 0) when it is active and set for the event (on
// receipt, or run manually). Rules are tried by Sort, then ID. All of a
// rule's conditions must hold. The strings of one condition are
// alternatives: for a positive operator (contains, equals, regex) one
// matching string is enough; for a negative operator (does not contain,
// does not equal) none may match. A field with several values (the
// addresses of sender or recipient, the values of a repeated header, the
// attachment names) matches a positive operator when any value does, and a
// negative one when no value does. Matching ignores case, Unicode-aware:
// each character is folded once (simple case folding, so "ПРИВЕТ" equals
// "привет" and "Ё" "ё"), the rule's strings when it is compiled and the
// message's texts once per evaluation. Regular expressions are Go's RE2
// (linear time, no backtracking), compiled with the (?i) flag and run on
// the text as it is: unlike the original module, which upper-cased the
// pattern and so turned \d, \w and \s into \D, \W and \S, a pattern means
// what it says.
//
// Actions run in one order, whatever order a form lists them in (see
// [Actions]), and "stop" (or "delete") ends the processing of the message
// after the rule's own actions.
//
// Forwarding never loops: mail that is automatic (Auto-Submitted other than
// "no"), that Pochta forwarded already ([LoopHeader]) or that has passed
// more than [MaxHops] servers is not forwarded; the outcome says so
// ([Step.Blocked]).
package rules
