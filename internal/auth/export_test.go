package auth

import "crypto/ed25519"

// SigningKeyForTest returns the key signing now, so tests can forge tokens with the right
// key and a wrong claim.
func (s *Service) SigningKeyForTest() (kid string, priv ed25519.PrivateKey) {
	k, p, _ := s.tokens.keys.Load().signer(s.now())
	return k.ID, p
}

// SetReencryptBatchForTest makes ReencryptSecrets read n users at a time, so tests cross
// batch boundaries with few users.
func (s *Service) SetReencryptBatchForTest(n int) { s.reencryptBatch = n }
