package secret

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestBoxRoundTrip(t *testing.T) {
	key, err := LoadOrCreateKey("", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	box, err := NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{"", "secret1", "пароль", string(bytes.Repeat([]byte("x"), 1000))} {
		sealed, err := box.Seal(plain)
		if err != nil {
			t.Fatal(err)
		}
		if plain != "" && bytes.Contains(sealed, []byte(plain)) {
			t.Errorf("sealed %q holds the plaintext", plain)
		}
		got, err := box.Open(sealed)
		if err != nil || got != plain {
			t.Errorf("Open(Seal(%q)) = %q, %v", plain, got, err)
		}
	}
	sealed, _ := box.Seal("secret1")
	sealed[len(sealed)-1] ^= 1
	if _, err := box.Open(sealed); err == nil {
		t.Error("a tampered ciphertext opened")
	}
}

func TestKeyFilePersists(t *testing.T) {
	dir := t.TempDir()
	first, err := LoadOrCreateKey("", dir)
	if err != nil {
		t.Fatal(err)
	}
	second, err := LoadOrCreateKey("", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("the key changed between starts")
	}
	info, err := os.Stat(filepath.Join(dir, KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", info.Mode().Perm())
	}
	if _, err := LoadOrCreateKey("not-a-key", dir); err == nil {
		t.Error("a bad POCHTA_SECRET_KEY was accepted")
	}
}

func TestPasswordHash(t *testing.T) {
	hash, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		hash, password string
		want           bool
	}{
		{hash, "correct horse", true},
		{hash, "correct horse ", false},
		{hash, "", false},
		{"", "correct horse", false},
		{"$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAA", "x", false},
		{"$bcrypt$garbage", "x", false},
	}
	for _, test := range tests {
		if got := CheckPassword(test.hash, test.password); got != test.want {
			t.Errorf("CheckPassword(%q, %q) = %v", test.hash, test.password, got)
		}
	}
}
