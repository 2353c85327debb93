package verify

// TokenCacheLen is how many verified tokens v caches.
func TokenCacheLen(v *Verifier) int { return v.verified.len() }
