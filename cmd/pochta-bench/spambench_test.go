package main

import (
	"slices"
	"strconv"
	"testing"
)

// The shuffle is CPython's: for each seed, Python 3.11 printed
//
//	r = random.Random(seed); x = list(range(10)); r.shuffle(x); y = list(range(3000)); r.shuffle(y)
//
// x and y[:5] (the second shuffle continues the generator, as the ham and
// spam shuffles of spam_bogofilter.py do).
func TestPythonShuffle(t *testing.T) {
	for _, tc := range []struct {
		seed          uint32
		first, second []int
	}{
		{1, []int{6, 8, 9, 7, 5, 3, 0, 4, 1, 2}, nil},
		{2, []int{5, 9, 3, 4, 6, 7, 2, 8, 1, 0}, []int{1420, 750, 2009, 821, 1327}},
		{3, []int{1, 5, 6, 0, 9, 4, 7, 2, 8, 3}, []int{1370, 1724, 281, 223, 1038}},
	} {
		r := newPythonRandom(tc.seed)
		if x := shuffled(r, 10); !slices.Equal(x, tc.first) {
			t.Errorf("seed %d: %v, want %v", tc.seed, x, tc.first)
		}
		if tc.second == nil {
			continue
		}
		if y := shuffled(r, 3000)[:5]; !slices.Equal(y, tc.second) {
			t.Errorf("seed %d, second shuffle: %v, want %v", tc.seed, y, tc.second)
		}
	}
}

func shuffled(r *pythonRandom, n int) []int {
	x := make([]string, n)
	for i := range x {
		x[i] = strconv.Itoa(i)
	}
	r.shuffle(x)
	out := make([]int, n)
	for i, s := range x {
		out[i], _ = strconv.Atoi(s)
	}
	return out
}
