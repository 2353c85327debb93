package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/server"
)

func keysRotate(ctx context.Context, inv invocation, _ []string) error {
	return withService(ctx, inv, func(a *auth.Service) error {
		k, err := a.RotateKeys(ctx, true)
		if err != nil {
			return domainError(err)
		}
		if k == nil {
			// Another replica added the same generation at this moment: one new key, as wanted.
			fmt.Fprintln(inv.stdout, "another instance published a new key at the same moment; see: panguard-auth keys list")
			return nil
		}
		fmt.Fprintf(inv.stdout, "published key %s (generation %d); it signs new tokens from %s\n",
			k.ID, k.Generation, k.ActivatesAt.UTC().Format(time.RFC3339))
		return nil
	})
}

func keysList(ctx context.Context, inv invocation, _ []string) error {
	return withService(ctx, inv, func(a *auth.Service) error {
		keys, err := a.KeyStatuses(ctx)
		if err != nil {
			return domainError(err)
		}
		tw := tabwriter.NewWriter(inv.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KID\tGEN\tCREATED\tSIGNS FROM\tSTATE")
		for _, k := range keys {
			state := "retired"
			switch {
			case k.Signing:
				state = "signing"
			case k.ActivatesAt.After(time.Now()):
				state = "published, signs soon"
			case k.Published:
				state = "published until " + k.UnpublishedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", k.ID, k.Generation, k.CreatedAt.UTC().Format(time.RFC3339),
				k.ActivatesAt.UTC().Format(time.RFC3339), state)
		}
		return tw.Flush()
	})
}

func serviceKeyCreate(ctx context.Context, inv invocation, args []string) error {
	return withService(ctx, inv, func(a *auth.Service) error {
		raw, _, err := a.CreateServiceKey(ctx, args[0])
		if err != nil {
			return domainError(err)
		}
		fmt.Fprintln(inv.stdout, raw)
		fmt.Fprintf(inv.stderr, "service key %q created; it is shown this once. Services send it as\n"+
			"Authorization: Bearer <key> to POST /api/auth/introspect.\n", args[0])
		return nil
	})
}

func serviceKeyList(ctx context.Context, inv invocation, _ []string) error {
	return withService(ctx, inv, func(a *auth.Service) error {
		keys, err := a.ListServiceKeys(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(inv.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tKEY\tCREATED")
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s…\t%s\n", k.Name, k.Hint, k.CreatedAt.UTC().Format(time.RFC3339))
		}
		return tw.Flush()
	})
}

func serviceKeyRevoke(ctx context.Context, inv invocation, args []string) error {
	return withService(ctx, inv, func(a *auth.Service) error {
		err := a.RevokeServiceKey(ctx, args[0])
		if errors.Is(err, auth.ErrNotFound) {
			return fmt.Errorf("no service key is named %s", args[0])
		}
		if err != nil {
			return domainError(err)
		}
		fmt.Fprintf(inv.stdout, "service key %s revoked\n", args[0])
		return nil
	})
}

func encryptionKeyRotate(ctx context.Context, inv invocation, _ []string) error {
	cfg, err := server.LoadConfig(inv.environ)
	if err != nil {
		return err
	}
	if cfg.EncryptionKeyPrevious == "" {
		return errors.New("PANGUARD_ENCRYPTION_KEY_PREVIOUS is not set: run this with the new key as " +
			"PANGUARD_ENCRYPTION_KEY and the old one as PANGUARD_ENCRYPTION_KEY_PREVIOUS")
	}
	err = withService(ctx, inv, func(a *auth.Service) error {
		r, err := a.ReencryptSecrets(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(inv.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SECRETS\tRE-SEALED\tALREADY UNDER THE NEW KEY")
		for _, c := range []struct {
			name string
			n    auth.ReencryptCount
		}{
			{"TOTP secrets", r.TOTPSecrets}, {"pending TOTP setups", r.PendingSecrets},
			{"signing keys", r.SigningKeys}, {"backup-code key", r.CodeKey},
		} {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", c.name, c.n.Resealed, c.n.Current)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(inv.stdout, "every secret is sealed under PANGUARD_ENCRYPTION_KEY: remove PANGUARD_ENCRYPTION_KEY_PREVIOUS and restart every replica")
		return nil
	})
	if errors.Is(err, auth.ErrKeyUnsealable) || errors.Is(err, auth.ErrNoPreviousKey) {
		// At the start or in the rotation: the message names the value, never the secret.
		return errors.New(strings.TrimPrefix(err.Error(), "auth: "))
	}
	return err
}
