-- q2: selection of the bids on a few auctions.
SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0 EMIT CHANGES;
