"""The bundled default zoo (index + small model directories), shipped as package data."""
