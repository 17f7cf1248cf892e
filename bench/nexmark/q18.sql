-- q18: the last bid of each bidder on each auction (deduplication, keep the latest).
-- requires: ROW_NUMBER deduplication (issue 11)
SELECT auction, bidder, price, channel, url, `dateTime`, extra
FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY `dateTime` DESC) AS rank_number FROM bid) R
WHERE rank_number <= 1
EMIT CHANGES;
