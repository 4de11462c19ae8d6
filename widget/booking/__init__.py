"""Booking: the studio's rules, free slots, booking, cancelling and moving, and their pages."""
