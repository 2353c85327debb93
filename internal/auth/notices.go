package auth

import "context"

// Templates of the emails account self-service sends: links the owner must follow, and
// notices that something changed (each rendered by internal/mail from templates/NAME.txt and
// NAME.html).
const (
	TemplateVerifyEmail            = "verify_email"
	TemplateConfirmEmailChange     = "confirm_email_change"
	TemplateEmailChangeRequested   = "email_change_requested"
	TemplateEmailChanged           = "email_changed"
	TemplatePasswordChanged        = "password_changed"
	TemplatePasswordResetDone      = "password_reset_done"
	TemplateTOTPDisabled           = "totp_disabled"
	TemplateBackupCodesRegenerated = "backup_codes_regenerated"
	TemplateAccountDeleted         = "account_deleted"
	// TemplateDeviceSignIn tells the owner a device was signed in through the device grant.
	TemplateDeviceSignIn = "device_signin"
)

// Messages of the email operations.
const (
	MsgEmailChangeRequested = "If that address can be used, a confirmation link has been sent to it."
	MsgEmailVerified        = "Email address verified"
	MsgVerificationResent   = "If your address still needs verifying, a new link has been sent."
)

// notify queues a notice to u's address (inside ctx's transaction, so it goes out exactly
// when the change commits). The caller wakes the sender after the commit.
func (s *Service) notify(ctx context.Context, u User, template string) error {
	return s.enqueue(ctx, OutboxEmail, Email{
		To: u.Email, Name: u.Name, Template: template,
		// Every notice says what to do if it was not the owner: reset the password.
		Link: s.publicURL + "/forgot-password",
	})
}
