package twilio_test

import (
	"encoding/base64"
	"strings"
)

func basicAuth(h string) (user, pass string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(h, "Basic "))
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(raw), ":")
	return user, pass, ok
}
