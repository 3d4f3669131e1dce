"""`streamd demo`: the sample court running a compressed day with real agents."""
