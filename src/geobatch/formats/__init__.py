"""Pure codecs between batch files and neutral requests/answers. No file opening here."""
