package sse

import "time"

// Identity is who a stream or an action is for, as the application's own
// authentication found it (its session cookie, its OIDC library): the
// broker checks grants against it, it does not sign anyone in. The zero
// Identity is anonymous.
//
// The broker does not use it yet: the hooks that produce it
// (Options.Identify) and check it (Options.MayRead), and revocation,
// follow. Packages that authenticate (server/session) and serve actions
// (server/actions) return and receive it today.
type Identity struct {
	// Subject is who: a user name or ID; "" is anonymous.
	Subject string
	// Session names one sign-in of Subject, so that it can be revoked
	// alone (sign-out in one browser); "" when there is none.
	Session string
	// Issued is when that sign-in happened. A revocation of Subject ends
	// the sessions issued before it.
	Issued time.Time
	// Expires is when this identity's grants end (the session cookie's
	// expiry); zero: never.
	Expires time.Time
}
