package main

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Words for generated messages: common English and Russian words, so that
// bodies tokenise the way real mail does.
var (
	englishWords = strings.Fields(`the of and to in is you that it he was for on are as with his they at be this have from
		or one had by word but not what all were we when your can said there use an each which she do how their if will up
		other about out many then them these so some her would make like him into time has look two more write go see number
		no way could people my than first water been call who oil its now find long down day did get come made may part
		meeting report invoice order shipment payment account project schedule review budget contract quarter client server
		update release deadline proposal agenda office team manager customer delivery support ticket question answer thanks
		regards please attached document version draft final summary figures sales market price offer discount warehouse`)
	russianWords = strings.Fields(`и в не на я быть он с что а по это она этот к но они мы как из у который то за свой
		весь год от так о для ты же все тот мочь вы человек такой его сказать только или еще бы себя один как уже до время
		если сам когда другой вот говорить наш мой знать стать при чтобы дело жизнь кто первый очень два день её новый рука
		отчёт счёт договор поставка оплата встреча квартал клиент проект сроки бюджет письмо склад заказ цена скидка
		документ вложение версия итоги продажи рынок предложение офис команда руководитель доставка поддержка вопрос ответ`)
)

// generator makes realistic messages deterministically.
type generator struct {
	rng  *rand.Rand
	base time.Time
}

func newGenerator(seed uint64) *generator {
	return &generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), base: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (g *generator) words(list []string, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			if i%12 == 0 {
				b.WriteString(".\n")
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(list[g.rng.IntN(len(list))])
	}
	b.WriteString(".\n")
	return b.String()
}

var firstNames = []string{"anna", "boris", "carol", "dmitry", "elena", "frank", "galina", "henry", "irina", "john", "olga", "peter"}
var domains = []string{"example.com", "example.org", "mail.example.ru", "corp.example.net", "shop.example.com"}

func (g *generator) address() string {
	name := firstNames[g.rng.IntN(len(firstNames))]
	return fmt.Sprintf("%s.%d@%s", name, g.rng.IntN(500), domains[g.rng.IntN(len(domains))])
}

// message makes message number n of about size bytes: ~30% Russian,
// ~20% multipart with a small attachment. extra words, when given, go into
// the body (the benchmark's search words).
func (g *generator) message(n int, size int, extra string) []byte {
	russian := g.rng.IntN(10) < 3
	multipart := g.rng.IntN(10) < 2
	list := englishWords
	if russian {
		list = russianWords
	}
	date := g.base.Add(time.Duration(n) * 37 * time.Second)
	from, to := g.address(), g.address()
	subject := g.words(list, 3+g.rng.IntN(5))
	subject = strings.TrimSuffix(strings.ReplaceAll(subject, ".\n", " "), " ")
	encodedSubject := subject
	if russian {
		encodedSubject = "=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(subject)) + "?="
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Received: from mx%d.%s (mx%d.%s [192.0.2.%d])\r\n\tby mail.example.com with ESMTPS id %08x\r\n\tfor <%s>; %s\r\n",
		n%7, domains[n%5], n%7, domains[n%5], n%250, g.rng.Uint32(), to, date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Received: from [10.0.%d.%d] by mx%d.%s with ESMTPSA; %s\r\n", n%200, n%250, n%7, domains[n%5], date.Add(-2*time.Second).Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%d.%08x@%s>\r\nMIME-Version: 1.0\r\n",
		date.Format(time.RFC1123Z), from, to, encodedSubject, n, g.rng.Uint32(), domains[n%5])
	if g.rng.IntN(4) == 0 {
		fmt.Fprintf(&b, "Cc: %s, %s\r\n", g.address(), g.address())
	}
	b.WriteString("X-Mailer: Bench Mailer 1.0\r\n")
	textSize := size - b.Len() - 200
	if multipart {
		textSize -= 1600
	}
	// A word averages ~6 bytes in English and ~11 in Russian UTF-8.
	perWord := 7
	if russian {
		perWord = 12
	}
	body := g.words(list, max(10, textSize/perWord))
	if extra != "" {
		body = extra + " " + body
	}
	body = strings.ReplaceAll(body, "\n", "\r\n")
	charsetHeader := "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
	if !multipart {
		b.WriteString(charsetHeader + "\r\n" + body)
		return []byte(b.String())
	}
	boundary := fmt.Sprintf("----=_Part_%d_%08x", n, g.rng.Uint32())
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\n%s\r\n%s\r\n", boundary, charsetHeader, body)
	attachment := make([]byte, 1100)
	for i := range attachment {
		attachment[i] = byte(g.rng.IntN(256))
	}
	encoded := base64.StdEncoding.EncodeToString(attachment)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: application/pdf; name=\"invoice-%d.pdf\"\r\nContent-Disposition: attachment; filename=\"invoice-%d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
		boundary, n, n)
	for len(encoded) > 76 {
		b.WriteString(encoded[:76] + "\r\n")
		encoded = encoded[76:]
	}
	b.WriteString(encoded + "\r\n--" + boundary + "--\r\n")
	return []byte(b.String())
}
