-- q19: the 10 highest bids of each auction (per-key top-N).
-- compare: 1,3
-- (bids tied on price at the 10th place: which one is kept may differ; the top prices per auction agree)
SELECT * FROM
(SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rank_number FROM bid) R
WHERE rank_number <= 10
EMIT CHANGES;
