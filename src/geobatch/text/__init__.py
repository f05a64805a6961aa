"""Pure string work: folding, tokens, abbreviations, house numbers, units and postcodes. No I/O."""
