"""The HTTP side: app lifecycle, the URL table and thin handlers."""
