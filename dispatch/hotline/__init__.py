"""12345 hotline tickets under 接诉即办: from a resident's call to the reply and rating."""
