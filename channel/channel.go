// Package channel holds what the chat-platform protocol packages (wechat,
// wecom, feishu, dingtalk) share: error kinds, a dedupe cache, a time-window
// check and the long-answer splitter. It knows nothing of models or servers.
package channel

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Error kinds. The platform packages wrap one of these (errors.Is works), so
// the caller can map any rejection to a status with HTTPStatus.
var (
	// ErrSignature: a missing or forged signature, token or sign header.
	ErrSignature = errors.New("bad signature")
	// ErrStale: the request's timestamp lies outside the allowed window.
	ErrStale = errors.New("timestamp outside the allowed window")
	// ErrReceiver: the decrypted message names another AppID/CorpID/agent.
	ErrReceiver = errors.New("message is for another receiver")
	// ErrPadding: the decrypted block carries invalid PKCS#7 padding.
	ErrPadding = errors.New("bad padding")
	// ErrTooLarge: the body exceeds the configured limit.
	ErrTooLarge = errors.New("body too large")
	// ErrMalformed: bad XML, JSON, base64, layout or a missing field.
	ErrMalformed = errors.New("malformed request")
	// ErrConfig: the channel's own configuration is unusable.
	ErrConfig = errors.New("channel misconfigured")
)

// HTTPStatus maps an error from a Parse or Verify call to the status code to
// answer with. Authentication failures of any kind answer 403 without saying
// which check failed.
func HTTPStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrSignature), errors.Is(err, ErrStale),
		errors.Is(err, ErrReceiver), errors.Is(err, ErrPadding):
		return http.StatusForbidden
	case errors.Is(err, ErrMalformed):
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}

// APIError is a platform API's refusal: a non-zero errcode/code in its answer.
type APIError struct {
	Platform string // "wechat", "wecom", "feishu", "dingtalk"
	Op       string // the call, e.g. "message/custom/send"
	Code     int
	Msg      string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: error %d: %s", e.Platform, e.Op, e.Code, e.Msg)
}

// CheckWindow returns an error wrapping ErrStale when sent is more than
// window away from now, in either direction. A window <= 0 disables the check.
func CheckWindow(sent, now time.Time, window time.Duration) error {
	if window <= 0 {
		return nil
	}
	d := now.Sub(sent)
	if d > window || d < -window {
		return fmt.Errorf("%w: sent %s, now %s (window %s)", ErrStale,
			sent.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), window)
	}
	return nil
}
