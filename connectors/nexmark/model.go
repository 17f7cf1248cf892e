package nexmark

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// The constants of the reference generator (nexmark/nexmark, nexmark-flink
// GeneratorConfig and the model generators), with its default
// configuration: proportions 1:3:46, ids from 1000, 5 categories from 10.
const (
	firstAuctionID  = 1000
	firstPersonID   = 1000
	firstCategoryID = 10
	numCategories   = 5

	personProportion  = 1
	auctionProportion = 3
	bidProportion     = 46
	totalProportion   = personProportion + auctionProportion + bidProportion

	hotAuctionRatio     = 2 // configuration value: P(hot auction) = 1 - 1/2
	hotSellersRatio     = 4
	hotBiddersRatio     = 4
	hotAuctionGroup     = 100 // HOT_AUCTION_RATIO in BidGenerator
	hotSellerGroup      = 100
	hotBidderGroup      = 100
	numInFlightAuctions = 100
	numActivePeople     = 1000
	personIDLead        = 10
	auctionIDLead       = 10

	avgPersonBytes  = 200
	avgAuctionBytes = 500
	avgBidBytes     = 100

	hotChannelsRatio = 2
	channelsNumber   = 10000
	minStringLength  = 3

	// defaultEventRate is the event-time rate with 'rate' = 0: the
	// reference's default first-event.rate.
	defaultEventRate = 10000
)

var (
	usStates    = strings.Split("AZ,CA,ID,OR,WA,WY", ",")
	usCities    = strings.Split("Phoenix,Los Angeles,San Francisco,Boise,Portland,Bend,Redmond,Seattle,Kent,Cheyenne", ",")
	firstNames  = strings.Split("Peter,Paul,Luke,John,Saul,Vicky,Kate,Julie,Sarah,Deiter,Walter", ",")
	lastNames   = strings.Split("Shultz,Abrams,Spencer,White,Bartels,Walton,Smith,Jones,Noris", ",")
	hotChannels = []string{"Google", "Facebook", "Baidu", "Apple"}
)

// tables are the generator's fixed strings: built once from a fixed seed,
// so every source of every seed shares them (the reference builds them in
// static initialisers).
type tables struct {
	hotURLs     []string
	channels    []string
	channelURLs []string
	extra       string // extraBytes of letters; "extra" columns are slices of it
}

var fixed = newTables()

// extraBytes is the size of the letters "extra" columns are cut from:
// 64 KiB stays in a core's cache, so copying a row's padding costs no
// memory traffic (1 MiB made that copy a third of a bid's cost), and at
// 100-500 bytes a row there are still ~64K distinct paddings of each
// length.
const extraBytes = 64 << 10

func newTables() *tables {
	r := rand.New(rand.NewPCG(0x6e65786d61726b, 1))
	t := &tables{}
	for range hotChannels {
		t.hotURLs = append(t.hotURLs, baseURL(r))
	}
	for i := 0; i < channelsNumber; i++ {
		u := baseURL(r)
		if r.IntN(10) > 0 {
			u += fmt.Sprintf("&channel_id=%d", reverseAbs(int32(i)))
		}
		t.channels = append(t.channels, fmt.Sprintf("channel-%d", i))
		t.channelURLs = append(t.channelURLs, u)
	}
	var b strings.Builder
	b.Grow(extraBytes)
	for b.Len() < extraBytes {
		// 13 letters from each draw (26^13 < 2^64).
		v := r.Uint64()
		for range 13 {
			b.WriteByte(byte('a' + v%26))
			v /= 26
		}
	}
	t.extra = b.String()
	return t
}

// reverseAbs is Java's Math.abs(Integer.reverse(i)), which the reference
// puts in channel URLs.
func reverseAbs(i int32) int64 {
	var v uint32
	u := uint32(i)
	for k := 0; k < 32; k++ {
		v = v<<1 | u&1
		u >>= 1
	}
	x := int64(int32(v))
	if x < 0 {
		x = -x
	}
	return x
}

func baseURL(r *rand.Rand) string {
	return "https://www.nexmark.com/" + nextString(r, 5, '_') + "/" + nextString(r, 5, '_') + "/" +
		nextString(r, 5, '_') + "/item.htm?query=1"
}

// nextString is a random string of 3..maxLen-1 letters, with the special
// character sprinkled in and trimmed at the ends, as the reference's.
func nextString(r *rand.Rand, maxLen int, special byte) string {
	n := minStringLength + r.IntN(maxLen-minStringLength)
	b := make([]byte, n)
	for i := range b {
		if r.IntN(13) == 0 {
			b[i] = special
		} else {
			b[i] = byte('a' + r.IntN(26))
		}
	}
	return strings.Trim(string(b), " ")
}

// nextExtra pads a row so its size averages avg bytes (±20%).
func nextExtra(r *rand.Rand, current, avg int) string {
	if current > avg {
		return ""
	}
	avg -= current
	delta := int(math.Round(float64(avg) * 0.2))
	size := avg - delta
	if delta > 0 {
		size += r.IntN(2 * delta)
	}
	off := r.IntN(len(fixed.extra) - size)
	return fixed.extra[off : off+size]
}

// nextPrice is the reference's round(10^(6u) × 100) for a uniform u,
// written as an exponential: math.Pow would split the exponent and take a
// logarithm of 10 on every call, the generator's largest single cost.
func nextPrice(r *rand.Rand) int64 {
	return int64(math.Round(math.Exp(r.Float64()*(6*math.Ln10)) * 100))
}

// kind is the event kind of event id n.
func kind(n int64) Table {
	switch rem := n % totalProportion; {
	case rem < personProportion:
		return Person
	case rem < personProportion+auctionProportion:
		return Auction
	default:
		return Bid
	}
}

// lastPerson is the last person id (base 0) generated at or before event n.
func lastPerson(n int64) int64 {
	epoch, off := n/totalProportion, n%totalProportion
	if off >= personProportion {
		off = personProportion - 1
	}
	return epoch*personProportion + off
}

// lastAuction is the last auction id (base 0) generated at or before event n.
func lastAuction(n int64) int64 {
	epoch, off := n/totalProportion, n%totalProportion
	switch {
	case off < personProportion:
		epoch--
		off = auctionProportion - 1
	case off >= personProportion+auctionProportion:
		off = auctionProportion - 1
	default:
		off -= personProportion
	}
	return epoch*auctionProportion + off
}

func nextPersonID(r *rand.Rand, n int64) int64 {
	people := lastPerson(n) + 1
	active := min(people, numActivePeople)
	return people - active + r.Int64N(active+personIDLead)
}

func nextAuctionID(r *rand.Rand, n int64) int64 {
	hi := lastAuction(n)
	lo := max(hi-numInFlightAuctions, 0)
	return lo + r.Int64N(hi-lo+1+auctionIDLead)
}

// person is one Person event.
type person struct {
	id                                    int64
	name, email, card, city, state, extra string
}

func genPerson(r *rand.Rand, n int64) person {
	p := person{id: lastPerson(n) + firstPersonID}
	p.name = firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))]
	p.email = nextString(r, 7, ' ') + "@" + nextString(r, 5, ' ') + ".com"
	var cc [19]byte
	for i := 0; i < 4; i++ {
		v := r.IntN(10000)
		o := i * 5
		if i > 0 {
			cc[o-1] = ' '
		}
		cc[o], cc[o+1], cc[o+2], cc[o+3] = byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10)
	}
	p.card = string(cc[:])
	p.city = usCities[r.IntN(len(usCities))]
	p.state = usStates[r.IntN(len(usStates))]
	size := 8 + len(p.name) + len(p.email) + len(p.card) + len(p.city) + len(p.state)
	p.extra = nextExtra(r, size, avgPersonBytes)
	return p
}

// auction is one Auction event; expires is in event-time milliseconds.
type auction struct {
	id, initialBid, reserve, expires, seller, category int64
	name, desc, extra                                  string
}

func genAuction(r *rand.Rand, c *Config, n, ts int64) auction {
	a := auction{id: lastAuction(n) + firstAuctionID}
	if r.IntN(hotSellersRatio) > 0 {
		a.seller = lastPerson(n) / hotSellerGroup * hotSellerGroup
	} else {
		a.seller = nextPersonID(r, n)
	}
	a.seller += firstPersonID
	a.category = firstCategoryID + int64(r.IntN(numCategories))
	a.initialBid = nextPrice(r)
	// The auction lasts on average until numInFlightAuctions more
	// auctions have been generated.
	ahead := int64(numInFlightAuctions) * totalProportion / auctionProportion
	horizon := c.timestamp(n+ahead) - ts
	a.expires = ts + 1 + r.Int64N(max(horizon*2, 1))
	a.name = nextString(r, 20, ' ')
	a.desc = nextString(r, 100, ' ')
	a.reserve = a.initialBid + nextPrice(r)
	a.extra = nextExtra(r, 8+len(a.name)+len(a.desc)+40, avgAuctionBytes)
	return a
}

// bid is one Bid event.
type bid struct {
	auction, bidder, price int64
	channel, url, extra    string
}

func genBid(r *rand.Rand, n int64) bid {
	var b bid
	if r.IntN(hotAuctionRatio) > 0 {
		b.auction = lastAuction(n) / hotAuctionGroup * hotAuctionGroup
	} else {
		b.auction = nextAuctionID(r, n)
	}
	b.auction += firstAuctionID
	if r.IntN(hotBiddersRatio) > 0 {
		// The second person of the group, so hot bidders and hot
		// sellers don't collide.
		b.bidder = lastPerson(n)/hotBidderGroup*hotBidderGroup + 1
	} else {
		b.bidder = nextPersonID(r, n)
	}
	// The reference adds FIRST_PERSON_ID twice to bidders (a slip that
	// makes no bidder a person); sluice adds it once, so bidders join
	// with persons.
	b.bidder += firstPersonID
	b.price = nextPrice(r)
	if r.IntN(hotChannelsRatio) > 0 {
		i := r.IntN(len(hotChannels))
		b.channel, b.url = hotChannels[i], fixed.hotURLs[i]
	} else {
		i := r.IntN(channelsNumber)
		b.channel, b.url = fixed.channels[i], fixed.channelURLs[i]
	}
	b.extra = nextExtra(r, 32, avgBidBytes)
	return b
}
