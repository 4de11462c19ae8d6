"""The therapist's admin pages."""
