"""Warranty's pure domain: rule sets, the three clocks, and the 三包 decision engine. No I/O."""
