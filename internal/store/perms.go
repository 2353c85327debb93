package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
)

// ownerOnly is the mode of every file the store creates: the database holds the token
// signing secret and password hashes, so no other local user may read it.
const ownerOnly fs.FileMode = 0o600

// sqliteSidecars are the files SQLite (and Migrate) keep beside the database file.
var sqliteSidecars = []string{"-wal", "-shm", "-journal", ".migrate-lock"}

// secureSQLiteFiles creates the database file at path with mode 0600 if it is missing, and
// tightens it and its sidecar files to 0600 (logging a warning) where they are more
// permissive. SQLite gives the journal files it creates the database file's mode, so the
// main file decides for all of them.
func secureSQLiteFiles(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, ownerOnly)
	switch {
	case err == nil:
		// The umask may have taken bits the owner needs; set the mode exactly.
		err = f.Chmod(ownerOnly)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("create %s: %w", path, err)
	}
	for _, p := range append([]string{path}, sidecarPaths(path)...) {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if old := fi.Mode().Perm(); old&^ownerOnly != 0 {
			if err := os.Chmod(p, ownerOnly); err != nil {
				return fmt.Errorf("restrict %s to 0600: %w", p, err)
			}
			slog.Default().Warn("store: database file was readable by other users; restricted it to 0600",
				"file", p, "old_mode", fmt.Sprintf("%#o", old))
		}
	}
	return nil
}

func sidecarPaths(path string) []string {
	ps := make([]string, len(sqliteSidecars))
	for i, s := range sqliteSidecars {
		ps[i] = path + s
	}
	return ps
}
