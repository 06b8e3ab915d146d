"""Files sent in chat: sniffed, limited, stored content-addressed, served safely."""
