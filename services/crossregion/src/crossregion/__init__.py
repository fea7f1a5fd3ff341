"""Cross-region joint processing (跨省通办 / 省内通办): Adapters bridging this city's bus to other regions' platforms."""
