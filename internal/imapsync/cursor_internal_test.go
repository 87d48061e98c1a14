package imapsync

import "testing"

// The folder's cursor never passes a planned message whose body did not
// come: the next sync asks for it again.
func TestUnhandledBelow(t *testing.T) {
	plan := []planned{{uid: 5}, {uid: 7}, {uid: 9}}
	tests := []struct {
		handled []uint32
		lastUID uint32
		want    uint32
	}{
		{[]uint32{5, 7, 9}, 12, 12}, // all came: the highest UID seen
		{[]uint32{5, 9}, 12, 6},     // 7 missing: stop below it
		{nil, 12, 4},                // none came
		{[]uint32{7, 9}, 9, 4},
	}
	for _, test := range tests {
		batch := &storedBatch{handled: map[uint32]bool{}}
		for _, uid := range test.handled {
			batch.handled[uid] = true
		}
		if got := batch.unhandledBelow(plan, test.lastUID); got != test.want {
			t.Errorf("handled %v, last %d: %d, want %d", test.handled, test.lastUID, got, test.want)
		}
	}
	if got := (&storedBatch{}).unhandledBelow(nil, 3); got != 3 {
		t.Errorf("nothing planned: %d, want 3", got)
	}
}
