"""The shop's front (issue 13): search by typing, service first, popular services."""
