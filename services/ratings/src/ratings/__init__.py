"""Ratings (好差评): One rating per case, paper ballots, red/black list, bad-rating callback and rectification ledger."""
