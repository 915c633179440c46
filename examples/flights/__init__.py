"""The flights example: predict at scheduling time whether a flight arrives late."""
