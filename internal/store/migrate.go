package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun/migrate"
)

// MigrationState is one migration and whether this database has it applied.
type MigrationState struct {
	// Name is the migration's file name without its suffixes, e.g. "0009_admin".
	Name    string
	Applied bool
	// AppliedAt is when it was applied; zero while pending.
	AppliedAt time.Time
	// Unknown marks a migration the database records as applied but this binary does not
	// embed: a newer version applied it, and only that version can undo it.
	Unknown bool
}

// ErrRollbackBeyondApplied is RollbackN asked to undo more migrations than are applied.
var ErrRollbackBeyondApplied = errors.New("store: cannot roll back more migrations than are applied")

// migrationName is the name an operator sees: bun splits "0009_admin.tx.up.sql" into the
// name "0009" (all it records) and the comment "admin".
func migrationName(m migrate.Migration) string {
	if m.Comment == "" {
		return m.Name
	}
	return m.Name + "_" + m.Comment
}

// ApplyPending applies every embedded migration not yet applied, under the migration lock,
// and returns their names in the order applied. Unlike Migrate it does not prepare the
// statements serving needs.
func (s *Store) ApplyPending(ctx context.Context) ([]string, error) {
	m, err := s.migrator()
	if err != nil {
		return nil, err
	}
	var applied []string
	err = s.withMigrationLock(ctx, func() error {
		if err := m.Init(ctx); err != nil {
			return fmt.Errorf("store: migrate init: %w", err)
		}
		group, err := m.Migrate(ctx)
		if group != nil {
			for _, mig := range group.Migrations {
				applied = append(applied, migrationName(mig))
			}
		}
		if err != nil {
			// The group lists the migration that failed as well; it is not applied.
			if len(applied) > 0 {
				applied = applied[:len(applied)-1]
			}
			return fmt.Errorf("store: migrate: %w", err)
		}
		return nil
	})
	return applied, err
}

// MigrationStatus lists every embedded migration in order, applied or pending, followed by
// any applied migration this binary does not know. It works on an empty database (creating
// only the bookkeeping tables) and applies nothing.
func (s *Store) MigrationStatus(ctx context.Context) ([]MigrationState, error) {
	m, err := s.migrator()
	if err != nil {
		return nil, err
	}
	var out []MigrationState
	err = s.withMigrationLock(ctx, func() error {
		if err := m.Init(ctx); err != nil {
			return fmt.Errorf("store: migrate init: %w", err)
		}
		ms, err := m.MigrationsWithStatus(ctx)
		if err != nil {
			return fmt.Errorf("store: migration status: %w", err)
		}
		for _, mig := range ms {
			out = append(out, MigrationState{Name: migrationName(mig), Applied: mig.IsApplied(), AppliedAt: mig.MigratedAt})
		}
		missing, err := m.MissingMigrations(ctx)
		if err != nil {
			return fmt.Errorf("store: migration status: %w", err)
		}
		slices.SortFunc(missing, func(a, b migrate.Migration) int { return cmp.Compare(a.Name, b.Name) })
		for _, mig := range missing {
			out = append(out, MigrationState{Name: mig.Name, Applied: true, AppliedAt: mig.MigratedAt, Unknown: true})
		}
		return nil
	})
	return out, err
}

// RollbackN undoes exactly the n most recently applied migrations, newest first, under the
// migration lock, and returns the names it undid (those it managed to, on an error). It
// refuses, undoing nothing, when n < 1, when fewer than n are applied
// (ErrRollbackBeyondApplied), or when the database has migrations this binary does not know.
func (s *Store) RollbackN(ctx context.Context, n int) ([]string, error) {
	if n < 1 {
		return nil, fmt.Errorf("store: rollback: the number of migrations must be at least 1, not %d", n)
	}
	m, err := s.migrator()
	if err != nil {
		return nil, err
	}
	var undone []string
	err = s.withMigrationLock(ctx, func() error {
		if err := m.Init(ctx); err != nil {
			return fmt.Errorf("store: migrate init: %w", err)
		}
		// A newer version's migrations would sit among the most recent ones, and their down
		// SQL is not in this binary: undoing "the last n" around them would skip them.
		missing, err := m.MissingMigrations(ctx)
		if err != nil {
			return fmt.Errorf("store: rollback: %w", err)
		}
		if len(missing) > 0 {
			return fmt.Errorf("store: rollback: the database has %d migration(s) this version does not know (first %s); roll back with the version that applied them", len(missing), missing[0].Name)
		}
		ms, err := m.MigrationsWithStatus(ctx)
		if err != nil {
			return fmt.Errorf("store: rollback: %w", err)
		}
		applied := ms.Applied()
		if n > len(applied) {
			return fmt.Errorf("%w: asked for %d, %d applied", ErrRollbackBeyondApplied, n, len(applied))
		}
		// Most recent first by the order they were recorded in, not by name (bun's order):
		// what an operator undoing a deploy means.
		slices.SortFunc(applied, func(a, b migrate.Migration) int { return cmp.Compare(b.ID, a.ID) })
		applied = applied[:n]
		for _, mig := range applied {
			if mig.Down == nil {
				return fmt.Errorf("store: rollback: %s has no down migration", migrationName(mig))
			}
		}
		for i := range applied {
			mig := &applied[i]
			if err := mig.Down(ctx, m, mig); err != nil {
				return fmt.Errorf("store: rollback %s: %w", migrationName(*mig), err)
			}
			if err := m.MarkUnapplied(ctx, mig); err != nil {
				return fmt.Errorf("store: rollback %s: %w", migrationName(*mig), err)
			}
			undone = append(undone, migrationName(*mig))
		}
		return nil
	})
	return undone, err
}
