/* Site-wide behaviour. No inline script anywhere: the CSP forbids it. */
