package service

import "strconv"

// ParseID reads an ID as the front ends' paths carry it: the canonical
// decimal form of a positive 64-bit integer, the form Pochta writes. Any
// other spelling ("01", "+1", " 1") names no resource, so that one resource
// has one address; ok is false for it, and the front ends answer 404 as for
// an ID that does not exist.
func ParseID(text string) (id int64, ok bool) {
	id, err := strconv.ParseInt(text, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != text {
		return 0, false
	}
	return id, true
}
