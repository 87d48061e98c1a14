// Package spam is Pochta's Bayesian spam filter (issue 14).
//
// It is split the way mox's junk package is: [Tokenize] turns a parsed
// message into its set of tokens (words, header-prefixed words, URL
// domains, optionally word pairs); a [Classifier] rates a token set from
// learned counts, read through the small [Counts] interface, combining the
// tokens' probabilities with Robinson's chi-square (Fisher) method; and
// [Delta] says how training or untraining a message changes those counts,
// which a [Learner] applies. [Result] explains itself: the probability and
// the words behind it, each said as "word = p% (spam N, ham M)".
//
// The counts live wherever a Learner keeps them: [Memory] for tests and
// offline evaluation, the store's spam_words and spam_totals tables (through
// [Store]) so that every Pochta process on one database shares them.
//
// The filter never marks a message as spam by itself: it gives a rating,
// and rules decide what to do with it.
package spam
