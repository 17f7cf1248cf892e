-- q19: the 10 highest bids of each auction (per-key top-N).
-- requires: ROW_NUMBER per-key top-N (issue 11)
SELECT * FROM
(SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rank_number FROM bid) R
WHERE rank_number <= 10
EMIT CHANGES;
