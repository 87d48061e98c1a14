package smtpd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Files of the self-signed pair in the data folder.
const (
	selfSignedCert = "smtp-selfsigned-cert.pem"
	selfSignedKey  = "smtp-selfsigned-key.pem"
)

// tlsCache builds the STARTTLS configuration from the settings once per
// change of them.
type tlsCache struct {
	dataDir string

	mu    sync.Mutex
	key   string // the settings it was built from
	built *tls.Config
}

func (c *tlsCache) config(settings Settings) (*tls.Config, error) {
	key := settings.TLSCertificate + "\x00" + settings.TLSKey
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.built != nil && c.key == key {
		return c.built, nil
	}
	var cert tls.Certificate
	var err error
	if strings.TrimSpace(settings.TLSCertificate) == "" && strings.TrimSpace(settings.TLSKey) == "" {
		cert, err = selfSigned(c.dataDir)
	} else {
		var certPEM, keyPEM []byte
		if certPEM, err = pemOrFile(settings.TLSCertificate); err == nil {
			if keyPEM, err = pemOrFile(settings.TLSKey); err == nil {
				cert, err = tls.X509KeyPair(certPEM, keyPEM)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	c.key = key
	c.built = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return c.built, nil
}

// pemOrFile gives PEM text as it is, and reads any other value as a path.
func pemOrFile(value string) ([]byte, error) {
	value = strings.TrimSpace(value)
	if strings.HasPrefix(value, "-----BEGIN") {
		return []byte(value), nil
	}
	if value == "" {
		return nil, errors.New("certificate and key must both be set")
	}
	return os.ReadFile(value)
}

// selfSigned loads the pair made before, or makes one and keeps it (when
// there is a data folder), so that a client that pinned it keeps working.
func selfSigned(dir string) (tls.Certificate, error) {
	if dir != "" {
		certPEM, err1 := os.ReadFile(filepath.Join(dir, selfSignedCert))
		keyPEM, err2 := os.ReadFile(filepath.Join(dir, selfSignedKey))
		if err1 == nil && err2 == nil {
			return tls.X509KeyPair(certPEM, keyPEM)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	hostname, _ := os.Hostname()
	if hostname == "" {
		hostname = "localhost"
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	template := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: hostname}, DNSNames: []string{hostname, "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if dir != "" {
		// Each file appears whole or not at all (a crash while writing
		// would otherwise leave a truncated pair that no start could
		// load), the key first: a certificate is never kept without it.
		if err := writeWhole(filepath.Join(dir, selfSignedKey), keyPEM, 0o600); err != nil {
			return tls.Certificate{}, fmt.Errorf("keeping the self-signed key: %w", err)
		}
		if err := writeWhole(filepath.Join(dir, selfSignedCert), certPEM, 0o644); err != nil {
			return tls.Certificate{}, fmt.Errorf("keeping the self-signed certificate: %w", err)
		}
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// writeWhole writes data to a temporary file beside path, syncs it and
// renames it over path.
func writeWhole(path string, data []byte, mode os.FileMode) error {
	file, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(file.Name()) // gone by then unless something failed
	if err := file.Chmod(mode); err != nil {
		file.Close()
		return err
	}
	if _, err := file.Write(data); err != nil {
		file.Close()
		return err
	}
	if err := file.Sync(); err != nil {
		file.Close()
		return err
	}
	if err := file.Close(); err != nil {
		return err
	}
	return os.Rename(file.Name(), path)
}
