package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"panguard.ai/auth/sdk"
)

// credentials is the saved session, stored as credentials.json in the config directory.
// The JSON field names are part of the CLI's interface: other tools may read the file.
type credentials struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expiresAt"` // RFC 3339
	Email     string `json:"email"`
	Name      string `json:"name"`
	APIURL    string `json:"apiUrl"`
	SavedAt   string `json:"savedAt"` // RFC 3339
}

// expiresAt is the parsed expiry; the zero time (long past) when it cannot be parsed.
func (c *credentials) expiresAt() time.Time {
	t, err := time.Parse(time.RFC3339, c.ExpiresAt)
	if err != nil {
		return time.Time{}
	}
	return t
}

// configDir is $PANGUARD_CONFIG_DIR, else $HOME/.panguard. custom reports the former.
func (a *app) configDir() (dir string, custom bool, err error) {
	if d := a.env("PANGUARD_CONFIG_DIR"); d != "" {
		return d, true, nil
	}
	home := a.env("HOME")
	if home == "" {
		return "", false, &cliError{reason: "no_home", code: 1,
			msg: "Cannot find your home directory: set HOME, or PANGUARD_CONFIG_DIR to the directory for credentials.json."}
	}
	return filepath.Join(home, ".panguard"), false, nil
}

// credentialsPath is the path of credentials.json.
func (a *app) credentialsPath() (string, error) {
	dir, _, err := a.configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "credentials.json"), nil
}

// readCredentials reads and decodes the file at path; the error wraps os.ErrNotExist when
// there is none.
func readCredentials(path string) (*credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c credentials
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	return &c, nil
}

// saveSession writes s as the current session, for the server at apiURL, and returns the
// file's path. The directory is created private (0700); the file is written to a temporary
// file in the same directory, made 0600 and renamed over the old one, so a reader never
// sees half a file and the token is never readable by others.
func (a *app) saveSession(s *sdk.Session, apiURL string) (string, error) {
	dir, custom, err := a.configDir()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("cannot create %s: %w", dir, err)
	}
	// ~/.panguard is ours: keep it private even if something loosened it. A directory
	// chosen with PANGUARD_CONFIG_DIR is created private but otherwise left as it is.
	if !custom {
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", fmt.Errorf("cannot make %s private: %w", dir, err)
		}
	}
	c := credentials{
		Token:     s.Token,
		ExpiresAt: s.ExpiresAt.UTC().Format(time.RFC3339),
		Email:     s.User.Email,
		Name:      s.User.Name,
		APIURL:    apiURL,
		SavedAt:   time.Now().UTC().Format(time.RFC3339),
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "credentials.json")
	if err := writeFileAtomic(path, append(b, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("cannot save the credentials to %s: %w", path, err)
	}
	return path, nil
}

// writeFileAtomic replaces path with data and the given mode through a temporary file in
// the same directory and a rename.
func writeFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename keeps the temporary file's mode; set it again in case the file system or
	// an existing file's ACLs say otherwise.
	if err = os.Chmod(path, mode); err != nil {
		return err
	}
	if d, derr := os.Open(filepath.Dir(path)); derr == nil {
		d.Sync() // best effort: make the rename durable
		d.Close()
	}
	return nil
}

// deleteCredentials removes the saved session; a missing file is not an error.
func (a *app) deleteCredentials() error {
	path, err := a.credentialsPath()
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cannot delete %s: %w", path, err)
	}
	return nil
}
