-- q6: average selling price per seller over its last 10 closed auctions
-- (join, per-key top-1, OVER aggregate).
-- The OVER aggregate reads the top-1's changelog: each change recomputes its seller's rows.
-- Q.id breaks ties on dateTime (a seller's auctions can close at one instant), which would
-- otherwise pick the 10 preceding rows in an order batch and streaming need not share.
SELECT Q.seller,
       AVG(Q.price) OVER (PARTITION BY Q.seller ORDER BY Q.`dateTime`, Q.id ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) AS avg_price
FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY id, seller ORDER BY price DESC) AS rownum
    FROM (SELECT A.id, A.seller, B.price, B.`dateTime`
          FROM auction AS A, bid AS B
          WHERE A.id = B.auction AND B.`dateTime` BETWEEN A.`dateTime` AND A.expires) J
) AS Q
WHERE Q.rownum <= 1
EMIT CHANGES;
