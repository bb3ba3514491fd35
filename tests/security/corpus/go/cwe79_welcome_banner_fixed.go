package views

import (
	"fmt"
	"html/template"
)

// WelcomeBanner is the greeting shown at the top of the dashboard.
func WelcomeBanner(displayName string, unread int) template.HTML {
	msg := fmt.Sprintf("<div class=\"banner\">Welcome back, <b>%s</b>! You have %d new messages.</div>",
		template.HTMLEscapeString(displayName), unread)
	return template.HTML(msg)
}
