package rules

import (
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// minLiteral is the shortest literal worth looking for: a shorter one is in
// nearly every text.
const minLiteral = 3

// requiredLiterals gives pieces of text, folded, one of which every match
// of the pattern contains, or nil when it finds none worth testing for. A
// regular expression that needs "invoice" or "счёт" cannot match a text
// with neither, and looking for them is far cheaper than running the
// expression (RE2 takes some 40 ns a byte of a Cyrillic body,
// strings.Index well under one), so the engine runs the expression only on
// texts that have one of its literals. The search is conservative:
// optional parts, classes and anything it does not know give no literal,
// never a wrong one (FuzzCompile checks that a text the expression matches
// always holds one).
func requiredLiterals(pattern string) []string { return foldedLiterals(pattern, required) }

// prefixLiterals gives pieces of text, folded, one of which every match of
// the pattern begins with, or nil when it finds none worth looking for:
// the pattern then needs to be tried only where one of them is, anchored
// there ([anchoredMatch]), instead of over the whole text. Empty-width
// assertions before the literal (`\b`, `^`) consume nothing and are
// skipped: the anchored run sees the character before the position, so
// they are still checked. Like requiredLiterals it is conservative:
// anything it does not know gives nil.
func prefixLiterals(pattern string) []string { return foldedLiterals(pattern, prefixes) }

// foldedLiterals parses pattern and gives what find makes of it, folded,
// or nil when it gives nothing or a literal too short to be worth it.
func foldedLiterals(pattern string, find func(*syntax.Regexp) []string) []string {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	literals := find(re.Simplify())
	for i, literal := range literals {
		if utf8.RuneCountInString(literal) < minLiteral {
			return nil
		}
		literals[i] = fold(literal)
	}
	return literals
}

// shortest is the length of the shortest of literals (0 for none): the
// better of two sets is the one whose shortest literal is longer.
func shortest(literals []string) int {
	if len(literals) == 0 {
		return 0
	}
	n := len(literals[0])
	for _, literal := range literals[1:] {
		n = min(n, len(literal))
	}
	return n
}

// walkLiterals is what required and prefixes share: a literal is itself, a
// group or a repetition at least once is its inside, an alternation is
// every branch's literals (or none if a branch has none); a concatenation
// is where they differ, and concat says it. find is the caller itself, for
// the insides.
func walkLiterals(re *syntax.Regexp, find func(*syntax.Regexp) []string, concat func([]*syntax.Regexp) []string) []string {
	switch re.Op {
	case syntax.OpLiteral:
		return []string{string(re.Rune)}
	case syntax.OpCapture, syntax.OpPlus:
		return find(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return find(re.Sub[0])
		}
	case syntax.OpAlternate:
		var all []string
		for _, sub := range re.Sub {
			literals := find(sub)
			if literals == nil {
				return nil
			}
			all = append(all, literals...)
		}
		return all
	case syntax.OpConcat:
		return concat(re.Sub)
	}
	return nil
}

func required(re *syntax.Regexp) []string { return walkLiterals(re, required, requiredInConcat) }

// requiredInConcat: the longest run of literals, or the best of what a
// part requires.
func requiredInConcat(subs []*syntax.Regexp) []string {
	var best []string
	var run strings.Builder
	keep := func() {
		if run.Len() > shortest(best) {
			best = []string{run.String()}
		}
		run.Reset()
	}
	for _, sub := range subs {
		if sub.Op == syntax.OpLiteral {
			run.WriteString(string(sub.Rune))
			continue
		}
		keep()
		if inner := required(sub); shortest(inner) > shortest(best) {
			best = inner
		}
	}
	keep()
	return best
}

func prefixes(re *syntax.Regexp) []string { return walkLiterals(re, prefixes, prefixesInConcat) }

// prefixesInConcat: past the leading assertions, the first part's prefixes,
// or the run of literals it begins.
func prefixesInConcat(subs []*syntax.Regexp) []string {
	for len(subs) > 0 && emptyWidth(subs[0]) {
		subs = subs[1:]
	}
	if len(subs) == 0 {
		return nil
	}
	if subs[0].Op != syntax.OpLiteral {
		return prefixes(subs[0])
	}
	// Consecutive literals make one longer prefix (the parser splits a
	// literal where its case-folding flag changes).
	var run strings.Builder
	for _, sub := range subs {
		if sub.Op != syntax.OpLiteral {
			break
		}
		run.WriteString(string(sub.Rune))
	}
	return []string{run.String()}
}

// emptyWidth reports whether re matches only the empty string at a
// position (an assertion), consuming nothing.
func emptyWidth(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary, syntax.OpEmptyMatch:
		return true
	}
	return false
}
