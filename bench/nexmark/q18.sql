-- q18: the last bid of each bidder on each auction (deduplication, keep the latest).
-- compare: 1,2
-- (bids of one bidder on one auction tied on dateTime: batch and streaming may keep different ones; the kept keys agree)
SELECT auction, bidder, price, channel, url, `dateTime`, extra
FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY `dateTime` DESC) AS rank_number FROM bid) R
WHERE rank_number <= 1
EMIT CHANGES;
