// Package secret holds Pochta's cryptography: the key that encrypts mailbox
// passwords at rest, password hashing for users, and API token secrets.
package secret

import (
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// KeyFileName is the name of the key file in the data folder.
const KeyFileName = "secret.key"

// Box encrypts and decrypts small secrets (mailbox passwords, webhook
// secrets) with XChaCha20-Poly1305. The random 24-byte nonce is stored in
// front of each ciphertext.
type Box struct {
	aead cipher.AEAD
}

// NewBox makes a Box from a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &Box{aead: aead}, nil
}

// LoadOrCreateKey returns the key from env (base64 or hex of 32 bytes) when
// env is not empty, else from dataDir/secret.key, creating that file with a
// new random key (mode 0600) on first start.
func LoadOrCreateKey(env, dataDir string) ([]byte, error) {
	if env != "" {
		return decodeKey(env)
	}
	path := filepath.Join(dataDir, KeyFileName)
	content, err := os.ReadFile(path)
	if err == nil {
		return decodeKey(strings.TrimSpace(string(content)))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	key := make([]byte, chacha20poly1305.KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("new secret key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("write secret key: %w", err)
	}
	// O_EXCL: when two processes start at once, one writes and the other
	// reads what it wrote.
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateKey("", dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("write secret key: %w", err)
	}
	defer file.Close()
	if _, err := file.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		return nil, fmt.Errorf("write secret key: %w", err)
	}
	if err := file.Sync(); err != nil {
		return nil, fmt.Errorf("write secret key: %w", err)
	}
	return key, nil
}

func decodeKey(text string) ([]byte, error) {
	if key, err := base64.StdEncoding.DecodeString(text); err == nil && len(key) == chacha20poly1305.KeySize {
		return key, nil
	}
	if key, err := hex.DecodeString(text); err == nil && len(key) == chacha20poly1305.KeySize {
		return key, nil
	}
	return nil, errors.New("secret key: want 32 bytes, base64 or hex encoded")
}

// Seal encrypts plaintext. An empty plaintext gives nil, so that "no
// password" is stored as NULL.
func (b *Box) Seal(plaintext string) ([]byte, error) {
	if plaintext == "" {
		return nil, nil
	}
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return b.aead.Seal(nonce, nonce, []byte(plaintext), nil), nil
}

// Open decrypts what Seal made. nil gives "".
func (b *Box) Open(sealed []byte) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	if len(sealed) < b.aead.NonceSize() {
		return "", errors.New("open secret: too short")
	}
	plain, err := b.aead.Open(nil, sealed[:b.aead.NonceSize()], sealed[b.aead.NonceSize():], nil)
	if err != nil {
		return "", fmt.Errorf("open secret: %w (was the key changed?)", err)
	}
	return string(plain), nil
}

// argon2id parameters: RFC 9106's second recommended option scaled to a
// login taking a few tens of milliseconds on a small server.
const (
	argonTime    = 2
	argonMemory  = 32 * 1024 // KiB
	argonThreads = 2
	argonKeyLen  = 32
)

// HashPassword hashes a user password with argon2id in the PHC string format.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches a hash made by HashPassword.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var memory, iterations uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &iterations, &threads); err != nil {
		return false
	}
	// Refuse absurd parameters from a tampered database rather than
	// allocating gigabytes.
	if memory > 1024*1024 || iterations > 100 || threads == 0 {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, iterations, memory, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when a login is unknown, so that an unknown
// login takes as long as a wrong password. It is made on first use: hashing
// costs 32 MB and tens of milliseconds that a start should not pay.
var dummyHash = sync.OnceValue(func() string {
	hash, _ := HashPassword("pochta-dummy-password")
	return hash
})

// CheckDummy spends the time of one password check.
func CheckDummy(password string) { CheckPassword(dummyHash(), password) }

// NewToken makes a random secret of n bytes, URL-safe base64 encoded.
func NewToken(n int) string {
	raw := make([]byte, n)
	if _, err := rand.Read(raw); err != nil {
		panic("crypto/rand failed: " + err.Error()) // rand.Read never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// HashToken hashes a token secret for storage. Tokens are long and random,
// so a plain SHA-256 is enough: there is nothing to brute-force.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
