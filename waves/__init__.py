"""Waves: a campaign's timed pushes (schedule, pause, close), their reminders, pledges and e-mail subscriptions."""
