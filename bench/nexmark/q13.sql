-- q13: bids enriched from a bounded side input (lookup join). The runner
-- creates side_input (key BIGINT, value VARCHAR) from a file of 10000 rows.
SELECT B.auction, B.bidder, B.price, B.`dateTime`, S.`value`
FROM bid B JOIN side_input S ON MOD(B.auction, 10000) = S.`key`
EMIT CHANGES;
