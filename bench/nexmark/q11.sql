-- q11: bids per user session (10 s gap).
SELECT bidder, COUNT(*) AS bid_count, window_start AS starttime, window_end AS endtime
FROM SESSION(bid, `dateTime`, INTERVAL '10' SECOND)
GROUP BY bidder, window_start, window_end
EMIT FINAL;
