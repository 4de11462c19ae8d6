"""News one part of the service gives to others that it must not import (blinker signals)."""

from blinker import Namespace

_signals = Namespace()

# Sent by a calendar backend when it loses its connection, inside the unit of work
# that records the loss, with ``connected_at``, ``problem`` and ``work``: receivers
# queue what they have to say on ``work`` (an outbox.Work), committed with the loss.
calendar_lost = _signals.signal("calendar-lost")

# Sent when time the widget could offer is freed (a booking cancelled or moved away, by
# the client, the studio or a change in Google Calendar; blocked time removed), inside
# the unit of work that frees it, with ``start``, ``end`` (aware) and ``work``:
# receivers queue what they have to say on ``work``, committed with the change.
time_freed = _signals.signal("time-freed")
