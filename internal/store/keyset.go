package store

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// keysetCursor is the keyset position after the last row of a page: the
// row's sort value and ID, as JSON in an opaque base64 string.
type keysetCursor struct {
	Value any   `json:"v"`
	ID    int64 `json:"id"`
}

// keysetPage adds to a list's WHERE clause (" WHERE ..." or "") the seek
// past cursor ("" for the first page) and gives the ORDER BY of a list
// sorted by column, then by idColumn to break ties, so that the last page
// of a long list costs what the first does. what names the list in errors.
func keysetPage(where string, args []any, cursor, column, idColumn string, descending bool, what string) (string, string, []any, error) {
	direction, compare := "ASC", ">"
	if descending {
		direction, compare = "DESC", "<"
	}
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		var position keysetCursor
		if err == nil {
			err = json.Unmarshal(raw, &position)
		}
		if err != nil {
			return "", "", nil, fmt.Errorf("%s: bad cursor: %w", what, ErrBadCursor)
		}
		if number, isNumber := position.Value.(float64); isNumber {
			// JSON numbers decode as float64; the columns are integers
			// (IDs and microsecond times stay below 2^53, so this is exact).
			position.Value = int64(number)
		}
		if where == "" {
			where = " WHERE "
		} else {
			where += " AND "
		}
		if column == idColumn {
			where += idColumn + " " + compare + " ?"
			args = append(args, position.ID)
		} else {
			where += "(" + column + " " + compare + " ? OR (" + column + " = ? AND " + idColumn + " " + compare + " ?))"
			args = append(args, position.Value, position.Value, position.ID)
		}
	}
	orderBy := " ORDER BY " + column + " " + direction
	if column != idColumn {
		orderBy += ", " + idColumn + " " + direction
	}
	return where, orderBy, args, nil
}

// nextKeysetCursor is the cursor of the page after a row with this ID and
// sort value.
func nextKeysetCursor(id int64, value any) string {
	raw, _ := json.Marshal(keysetCursor{ID: id, Value: value})
	return base64.RawURLEncoding.EncodeToString(raw)
}
