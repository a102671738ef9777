"""Reach, coverage, funnel and engagement, read from the campaign's tallies; charts and exports."""
