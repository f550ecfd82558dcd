"""The one face claim modules import."""
