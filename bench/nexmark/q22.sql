-- q22: the first three directories of each bid's URL (Flink's 0-based
-- SPLIT_INDEX(url, '/', 3) is SPLIT_PART(url, '/', 4)).
SELECT auction, bidder, price, channel,
       SPLIT_PART(url, '/', 4) AS dir1,
       SPLIT_PART(url, '/', 5) AS dir2,
       SPLIT_PART(url, '/', 6) AS dir3
FROM bid
EMIT CHANGES;
