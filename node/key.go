package node

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// EncodeKey returns the -key / MESHNODE_KEY form of priv: standard base64 of
// crypto.MarshalPrivateKey. The harness uses it to assign identities, so that
// every peer ID is known before any node starts.
func EncodeKey(priv crypto.PrivKey) (string, error) {
	b, err := crypto.MarshalPrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("encode key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// DecodeKey parses the form written by EncodeKey.
func DecodeKey(s string) (crypto.PrivKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decode key: expected standard base64 of a libp2p private key (crypto.MarshalPrivateKey): %w", err)
	}
	priv, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("decode key: expected a libp2p private key (crypto.MarshalPrivateKey, ed25519): %w", err)
	}
	return priv, nil
}

// generateKey returns a fresh ed25519 key, the type the harness assigns too.
func generateKey() (crypto.PrivKey, error) {
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	return priv, nil
}
