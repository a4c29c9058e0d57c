package store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// remoteFile is what a probe learned about a download.
type remoteFile struct {
	url    string
	size   int64  // -1 when unknown
	sha    Digest // published sha256, zero when none
	etag   string // validator, for the resume key when no sha256 is known
	ranges bool   // the server takes byte ranges
}

// transient marks errors worth retrying: network failures, 5xx, 429,
// stalls and bodies cut short.
type transient struct{ err error }

func (e *transient) Error() string { return e.err.Error() }
func (e *transient) Unwrap() error { return e.err }

func isTransient(err error) bool {
	var t *transient
	return errors.As(err, &t)
}

var (
	errStalled = errors.New("connection stalled")
	// errRemoteChanged: a range the file should have is not there (416,
	// or a different total), so the partial file belongs to another file.
	errRemoteChanged = errors.New("the file on the hub changed during the download")
)

// statusError turns a failed HTTP status into an error (nil for 2xx).
func statusError(resp *http.Response, what string) error {
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("%s: %s: the repository is gated or private; accept its terms on the hub and set HF_TOKEN", what, resp.Status)
	case code == http.StatusNotFound:
		return fmt.Errorf("%s: %s: %w", what, resp.Status, ErrNotFound)
	case code == http.StatusRequestedRangeNotSatisfiable:
		return fmt.Errorf("%s: %s: %w", what, resp.Status, errRemoteChanged)
	case code >= 500, code == http.StatusTooManyRequests, code == http.StatusRequestTimeout:
		return &transient{fmt.Errorf("%s: %s", what, resp.Status)}
	}
	return fmt.Errorf("%s: %s", what, resp.Status)
}

// retry runs f until it succeeds, fails for good, or has failed
// p.opt.Retries+1 times in a row, sleeping with exponential backoff.
func (p *Puller) retry(ctx context.Context, f func() error) error {
	for attempt := 0; ; attempt++ {
		err := f()
		if err == nil || !isTransient(err) || attempt >= p.opt.Retries || ctx.Err() != nil {
			return err
		}
		if err := p.sleep(ctx, attempt+1); err != nil {
			return err
		}
	}
}

func (p *Puller) sleep(ctx context.Context, attempt int) error {
	d := p.opt.RetryDelay << min(attempt-1, 16)
	d = min(d, 30*time.Second)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// probe asks a hub about a file without downloading it: HEAD through the
// redirects, collecting Hugging Face's X-Linked-Size and X-Linked-Etag (the
// sha256 of LFS files) from the hop that carries them.
func (p *Puller) probe(ctx context.Context, u string) (remoteFile, error) {
	rf := remoteFile{url: u, size: -1}
	var linkedEtag, linkedSize string
	capture := func(h http.Header) {
		if v := h.Get("X-Linked-Etag"); v != "" {
			linkedEtag = v
		}
		if v := h.Get("X-Linked-Size"); v != "" {
			linkedSize = v
		}
	}
	c := *p.client
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := p.policy.checkRedirect(req, via); err != nil {
			return err
		}
		if req.Response != nil {
			capture(req.Response.Header)
		}
		return nil
	}
	var resp *http.Response
	err := p.retry(ctx, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept-Encoding", "identity")
		p.authorize(req)
		r, err := c.Do(req)
		if err != nil {
			return &transient{fmt.Errorf("reach %s: %w", redact(u), err)}
		}
		r.Body.Close()
		switch r.StatusCode {
		case http.StatusMethodNotAllowed, http.StatusNotImplemented, http.StatusUnauthorized, http.StatusForbidden:
			// Some servers refuse HEAD (and URLs presigned for GET fail
			// it); the GET below settles whether access is really denied.
			resp = r
			return nil
		}
		if err := statusError(r, redact(u)); err != nil {
			return err
		}
		resp = r
		return nil
	})
	if err != nil {
		return rf, err
	}
	headOK := resp.StatusCode == http.StatusOK
	final := http.Header{}
	if headOK {
		capture(resp.Header)
		final = resp.Header
	}
	rf.etag = firstOf(linkedEtag, final.Get("Etag"))
	rf.sha = digestFromHex(trimETag(linkedEtag))
	if rf.sha.IsZero() {
		rf.sha = digestFromHex(trimETag(final.Get("Etag")))
	}
	if n, err := strconv.ParseInt(linkedSize, 10, 64); err == nil && n > 0 {
		rf.size = n
	} else if headOK && resp.ContentLength > 0 {
		rf.size = resp.ContentLength
	}
	rf.ranges = headOK && strings.EqualFold(final.Get("Accept-Ranges"), "bytes")
	if rf.size < 0 || !rf.ranges {
		// Servers that answer HEAD badly still answer a one-byte GET.
		size, ranges, err := p.probeRange(ctx, u)
		if err != nil {
			return rf, err
		}
		if rf.size < 0 {
			rf.size = size
		}
		rf.ranges = ranges
	}
	return rf, nil
}

// probeRange GETs the first byte: a 206 tells the size and that ranges work.
func (p *Puller) probeRange(ctx context.Context, u string) (size int64, ranges bool, err error) {
	err = p.retry(ctx, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Range", "bytes=0-0")
		req.Header.Set("Accept-Encoding", "identity")
		p.authorize(req)
		resp, err := p.client.Do(req)
		if err != nil {
			return &transient{fmt.Errorf("reach %s: %w", redact(u), err)}
		}
		defer resp.Body.Close()
		if err := statusError(resp, redact(u)); err != nil {
			return err
		}
		size, ranges = -1, false
		if resp.StatusCode == http.StatusPartialContent {
			if _, _, total, ok := parseContentRange(resp.Header.Get("Content-Range")); ok {
				size, ranges = total, true
			}
		} else if resp.ContentLength > 0 {
			size = resp.ContentLength
		}
		return nil
	})
	return size, ranges, err
}

func trimETag(s string) string {
	return strings.Trim(strings.TrimPrefix(strings.TrimSpace(s), "W/"), `"`)
}

// parseContentRange reads "bytes FIRST-LAST/TOTAL".
func parseContentRange(s string) (first, last, total int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	span, tot, found := strings.Cut(rest, "/")
	a, b, found2 := strings.Cut(span, "-")
	if !found || !found2 {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.ParseInt(a, 10, 64)
	last, err2 = strconv.ParseInt(b, 10, 64)
	total, err3 = strconv.ParseInt(tot, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first || total <= last {
		return 0, 0, 0, false
	}
	return first, last, total, true
}

// redact drops a URL's query, where CDNs put signatures.
func redact(u string) string {
	u, _, _ = strings.Cut(u, "?")
	return u
}
