-- q0: pass-through. Measures the cost of reading and writing a bid.
SELECT auction, bidder, price, `dateTime`, extra FROM bid EMIT CHANGES;
